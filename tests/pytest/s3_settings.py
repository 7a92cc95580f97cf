"""mediagate's storage settings for a bucket of the session's store
(conftest.py's `objectstore`), and a botocore client to look into it:
what a test needs to point mediagate at the real Ceph RGW."""

import itertools
import os
import subprocess

import botocore.session
from botocore.config import Config

_buckets = itertools.count(1)


def client(s3, secret=None):
    """A botocore S3 client of the store (path-style, SigV4)."""
    return botocore.session.get_session().create_client(
        "s3", region_name=s3.region, endpoint_url=s3.endpoint,
        aws_access_key_id=s3.access_key, aws_secret_access_key=secret or s3.secret_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def new_bucket(s3, stem="mg"):
    """A new, empty bucket of the store; its name."""
    name = f"{stem}-{os.getpid()}-{next(_buckets)}"
    client(s3).create_bucket(Bucket=name)
    return name


def env(s3, bucket, prefix=""):
    """MEDIAGATE_STORAGE_* for the bucket, objects readable at the store's
    own URL (no CDN)."""
    return {
        "MEDIAGATE_STORAGE": "s3",
        "MEDIAGATE_STORAGE_ENDPOINT": s3.endpoint,
        "MEDIAGATE_STORAGE_REGION": s3.region,
        "MEDIAGATE_STORAGE_BUCKET": bucket,
        "MEDIAGATE_STORAGE_PREFIX": prefix,
        "MEDIAGATE_STORAGE_ADDRESSING": "path",
        "MEDIAGATE_STORAGE_ACCESS_KEY_ID": s3.access_key,
        "MEDIAGATE_STORAGE_SECRET_ACCESS_KEY": s3.secret_key,
        "MEDIAGATE_STORAGE_PUBLIC_URL": f"{s3.endpoint}/{bucket}",
    }


def keys(s3, bucket, prefix=""):
    """{key: (size, ETag, LastModified)} of every object under prefix."""
    c = client(s3)
    out = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = (o["Size"], o["ETag"], o["LastModified"])
    return out


def unsigned_status(url):
    """The status of an unsigned GET of url (a viewer's, or a presigned URL)."""
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
                       capture_output=True, text=True, timeout=60)
    return int(r.stdout)
