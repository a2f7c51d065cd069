"""Developer tooling behind ./dev: local services, the stack, the test runner."""
