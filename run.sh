#!/usr/bin/env bash
# Set up aiida-qdots on this machine and run the demo on the embedded profile. Safe to run twice.
#   QDOTS_PROFILE  profile to create or reuse (default: qdots)
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install.sh
profile="${QDOTS_PROFILE:-qdots}"
aiida-qdots setup --profile-name "$profile"
aiida-qdots -p "$profile" demo
