"""One Textual screen per wizard step; each renders what core computes and nothing more."""
