#!/usr/bin/env bash
# One command from a clone: create or update the stack from the committed template, then write
# config.toml from its outputs, upload it with the executable and refresh the instances
# (write-config.ts). Arguments are more parameter overrides, e.g. InstanceProfileName=LabInstanceProfile.
set -euo pipefail
cd "$(dirname "$0")"
stack=${STACK_NAME:-suaicloudapp}

if [ -z "${SUAI_DATABASE_PASSWORD:-}" ]; then
  echo 'set SUAI_DATABASE_PASSWORD to the RDS master password (8 to 41 printable ASCII characters, none of / " @ or space)' >&2
  exit 2
fi
# Fail now rather than after the stack's quarter of an hour
if [ ! -f ../dist/suaicloudapp ]; then
  echo 'dist/suaicloudapp does not exist: run npm run build at the root first' >&2
  exit 2
fi
if [ ! -x node_modules/.bin/tsx ]; then
  echo 'deploy/node_modules is missing: run npm ci --prefix deploy first' >&2
  exit 2
fi

aws cloudformation deploy \
  --template-file suaicloudapp.template.json \
  --stack-name "$stack" \
  --capabilities CAPABILITY_IAM \
  --no-fail-on-empty-changeset \
  --parameter-overrides "DbPassword=$SUAI_DATABASE_PASSWORD" "$@"

node_modules/.bin/tsx write-config.ts --stack-name "$stack"
