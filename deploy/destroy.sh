#!/usr/bin/env bash
# One command to remove everything the stack made. The bucket is emptied first: CloudFormation
# deletes only an empty bucket, and the stack has no Lambda to empty it (see README.md).
set -euo pipefail
stack=${STACK_NAME:-suaicloudapp}

bucket=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='S3Bucket'].OutputValue" --output text)
# A stack that failed before its outputs existed has no bucket to empty ("None")
if [ -n "$bucket" ] && [ "$bucket" != None ]; then
  aws s3 rm "s3://$bucket" --recursive
fi
aws cloudformation delete-stack --stack-name "$stack"
echo "deleting stack $stack: RDS and ElastiCache take 10 to 20 minutes"
aws cloudformation wait stack-delete-complete --stack-name "$stack"
echo "deleted stack $stack"
