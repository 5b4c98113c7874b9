#!/usr/bin/env bash
# GitHub-hosted runners have no ../shared/data (the read-only data folder our own
# CI machines mount beside the checkout). Recreate it from the public originals,
# checking each file's SHA-256 so a changed upstream file fails loudly.
set -euo pipefail
dest="$(cd "$(dirname "$0")/../../.." && pwd)/shared/data"
mkdir -p "$dest/gpt2"

fetch() {  # url, target, sha256
  curl -fsSL --retry 3 "$1" -o "$2"
  python -c 'import hashlib, sys; d = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest(); sys.exit(d != sys.argv[2] and f"{sys.argv[1]}: sha256 {d}, expected {sys.argv[2]}")' "$2" "$3"
}
fetch https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt \
  "$dest/tinyshakespeare.txt" 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed
fetch https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json \
  "$dest/gpt2/encoder.json" 196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
fetch https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe \
  "$dest/gpt2/vocab.bpe" 1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
echo "shared data ready in $dest"
