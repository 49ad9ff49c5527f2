"""Authentication of registry clients (robot accounts, pull tokens) and what it shares with
the admin API: the cache of verified secrets and the limit on failed attempts."""
