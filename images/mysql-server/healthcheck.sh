#!/bin/bash
# Healthy once the entrypoint has started the real server, and it answers.
[ -f /mysql-init-complete ] && exec mysqladmin --defaults-extra-file=/healthcheck.cnf ping
exit 1
