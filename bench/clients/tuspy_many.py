"""Upload many files with tuspy (Debian python3-tuspy), JOBS at a time on
threads in one process, through the tus creation extension.
usage: tuspy_many.py ENDPOINT CHUNK_BYTES JOBS LIST_FILE"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from tusclient import client

endpoint, chunk, jobs, listing = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open(listing, encoding="utf-8") as f:
    files = [line for line in f.read().split("\n") if line]


def upload_one(path):
    # One client per upload: requests sessions are not shared across threads.
    uploader = client.TusClient(endpoint).uploader(
        path, chunk_size=chunk or os.path.getsize(path), metadata={"filename": os.path.basename(path)})
    uploader.upload()


with ThreadPoolExecutor(max_workers=jobs) as pool:
    for result in pool.map(upload_one, files):
        pass
