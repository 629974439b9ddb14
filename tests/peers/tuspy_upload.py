"""Upload one file with tuspy (Debian python3-tuspy), by creation
(--endpoint URL) or onto an existing upload link (--upload-url URL).
Prints the upload URL on success."""
import argparse
import os

from tusclient import client

parser = argparse.ArgumentParser()
parser.add_argument("--file", required=True)
parser.add_argument("--name")
parser.add_argument("--endpoint")
parser.add_argument("--upload-url")
parser.add_argument("--chunk-size", type=int, default=64 * 1024 * 1024)
parser.add_argument("--no-metadata", action="store_true", help="send tuspy's empty Upload-Metadata")
args = parser.parse_args()

tus = client.TusClient(args.endpoint or args.upload_url)
uploader = tus.uploader(args.file, chunk_size=args.chunk_size, url=args.upload_url,
                        metadata=None if args.no_metadata else {"filename": args.name or os.path.basename(args.file)})
uploader.upload()
print(uploader.url)
