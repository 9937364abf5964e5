#!/usr/bin/env bash
# Start the real servers the tests talk to, when this machine has them. Never fatal: a test that
# needs a missing server skips on a laptop, and fails under TSCRM_REQUIRE_SERVICES=1 (CI).
set -u
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    for v in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true
    done
    for _ in $(seq 1 20); do pg_up && break; sleep 0.5; done
  fi
fi
if pg_up; then echo "PostgreSQL: up on 127.0.0.1:5432"; else echo "PostgreSQL: not available (its tests will skip, or fail in CI)"; fi
exit 0
