#!/usr/bin/env bash
# Installs the system packages the tests need on a fresh machine (java and maven for TLC); npm
# dependencies and the TLA+ tools jar are installed by `npm test` itself on first use.
set -euo pipefail
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "ci/install: installing java and maven for TLC"
  apt-get update -qq && apt-get install -y -qq default-jre-headless maven >/dev/null
fi
