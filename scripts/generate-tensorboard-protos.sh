#!/usr/bin/env bash
# Regenerates Sources/SpecTopReaders/ForeignLogs/Generated/*.pb.swift from
# TensorBoard's .proto files (third_party/tensorboard/compat/proto, Apache 2.0,
# copied unchanged from tensorflow/tensorboard) with protoc and swift-protobuf's
# plugin. Run it only when those files change; the output is committed.
#
# Needs: protoc (Debian: apt-get install protobuf-compiler) and protoc-gen-swift
# of the swift-protobuf version Package.swift names (1.39.0), built once:
#   git clone --branch 1.39.0 https://github.com/apple/swift-protobuf /tmp/swift-protobuf
#   (cd /tmp/swift-protobuf && swift build -c release --product protoc-gen-swift)
#   PROTOC_GEN_SWIFT=/tmp/swift-protobuf/.build/release/protoc-gen-swift scripts/generate-tensorboard-protos.sh
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}
[ -x "$plugin" ] || { echo "protoc-gen-swift not found: set PROTOC_GEN_SWIFT (see the comment at the top of $0)" >&2; exit 1; }
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
out=Sources/SpecTopReaders/ForeignLogs/Generated
rm -f "$out"/*.pb.swift
# Internal visibility: the messages are SpecTopReaders' own business. Only the
# files an event needs: event → summary → histogram, tensor → resource_handle,
# tensor_shape, types.
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Internal --swift_opt=FileNaming=DropPath \
  --swift_out="$out" -I third_party \
  third_party/tensorboard/compat/proto/{event,summary,histogram,tensor,resource_handle,tensor_shape,types}.proto
echo "wrote $(ls "$out"/*.pb.swift | wc -l) files to $out ($(protoc --version), $("$plugin" --version))"
