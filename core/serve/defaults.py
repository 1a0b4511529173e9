"""The load test's defaults, in a module without imports: the wizard's schema reads them at start-up (the
first screen), so importing them must not load the server, staging or NVML code."""

DEFAULT_TIMEOUT = 1200.0  # the LMI image's own MODEL_LOADING_TIMEOUT
DEFAULT_GRACE = 10.0
DEFAULT_PROMPT = "What is Deep Learning?"
DEFAULT_MAX_NEW_TOKENS = 32
