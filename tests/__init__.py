"""pullgate's tests: unit/ (no sockets), integration/, e2e/, and support/ for shared fixtures."""
