#!/bin/bash
# EC2 user data for the launch template: cloud-init runs it once, as root, on the first boot;
# its output lands in /var/log/cloud-init-output.log.
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html
# The instance profile must allow s3:ListBucket and s3:GetObject on the bucket.
set -euo pipefail

BUCKET=suaicloudbucket

mkdir -p /suaicloudapp && cd /suaicloudapp
aws s3 sync "s3://${BUCKET}/" .
chmod +x suaicloudapp
# A config problem is reported here and by /health (503), but must not leave the instance
# without a server: the operator fixes config.toml and restarts the service.
./suaicloudapp validate || echo "suaicloudapp: config.toml has problems (above); installing the service anyway"
./suaicloudapp service install
