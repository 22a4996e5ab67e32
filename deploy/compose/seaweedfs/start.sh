#!/bin/sh
# Entry point of the compose file's `seaweedfs` service (image chrislusf/seaweedfs, Alpine sh):
# writes the S3 identities file from the environment (S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY,
# the same values as the roles' STREAMWAVE_S3_ACCESS_KEY_ID / _SECRET_ACCESS_KEY from .env), so no
# key sits in the repository, then runs `weed server -s3` with it (master, volume, filer and the S3
# gateway in one process; S3 on 8333).
set -eu
: "${S3_ACCESS_KEY_ID:?set STREAMWAVE_S3_ACCESS_KEY_ID in .env}"
: "${S3_SECRET_ACCESS_KEY:?set STREAMWAVE_S3_SECRET_ACCESS_KEY in .env}"
case "$S3_ACCESS_KEY_ID$S3_SECRET_ACCESS_KEY" in
  *[!A-Za-z0-9+/=_.-]*) echo "S3 keys may hold only [A-Za-z0-9+/=_.-]" >&2; exit 1 ;;
esac
umask 077
cat >/tmp/s3.json <<JSON
{
  "identities": [
    {
      "name": "streamwave",
      "credentials": [{ "accessKey": "$S3_ACCESS_KEY_ID", "secretKey": "$S3_SECRET_ACCESS_KEY" }],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
JSON
exec weed server -dir=/data -ip=seaweedfs -ip.bind=0.0.0.0 \
  -s3 -s3.port=8333 -s3.config=/tmp/s3.json
