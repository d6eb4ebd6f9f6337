"""inferentia-chat house rules as a CrossGuard policy pack (see rules.py; __main__.py builds the pack)."""
