"""Stand-ins for the GPU-bound builders (tests only), and test checkouts laid out from the real sources."""
