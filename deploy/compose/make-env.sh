#!/usr/bin/env bash
# Writes deploy/compose/.env from .env.example with a fresh random value (openssl rand -hex 32)
# for every `replace-me…` placeholder. Refuses to overwrite an existing .env (its secrets sign
# tokens and protect data: rotate them deliberately). Usage: bash make-env.sh [OUT] (default .env).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$HERE/.env}"
[[ -e "$OUT" ]] && { echo "make-env.sh: $OUT exists; remove it first to regenerate" >&2; exit 1; }
command -v openssl >/dev/null || { echo "make-env.sh: openssl is needed" >&2; exit 1; }
umask 077
while IFS= read -r line || [[ -n "$line" ]]; do
  if [[ "$line" =~ ^([A-Z0-9_]+)=replace-me ]]; then
    echo "${BASH_REMATCH[1]}=$(openssl rand -hex 32)"
  else
    echo "$line"
  fi
done <"$HERE/.env.example" >"$OUT"
echo "make-env.sh: wrote $OUT" >&2
