#!/bin/bash
# Healthy once the entrypoint has handed over to the real server (it makes
# /mysql-init-complete just before) and that server answers a ping as the
# healthcheck account; the temporary set-up server never counts.
[ -f /mysql-init-complete ] || exit 1
exec mysqladmin --defaults-extra-file=/healthcheck.cnf ping
