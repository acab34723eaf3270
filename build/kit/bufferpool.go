package kit

import (
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
)

// gRPC's buffer tiers with 64 and 128 KiB among them. Everything a build
// moves between this process's client and BuildKit (the context, the
// Dockerfile, an OCI tar sent back) goes over gRPC, in BuildKit's session
// (gRPC inside a gRPC stream), in messages of a little over 32 KiB (a
// 32 KiB chunk and its framing). gRPC's default tiers (256 B, 4, 16, 32
// KiB, 1 MiB) give each such message a 1 MiB buffer, zeroed when it is
// new: in a build's short life, mostly new. With these, 64 KiB.
var bufferTiers = []uint8{8, 12, 14, 15, 16, 17, 20}

func init() {
	pool, err := mem.NewBinaryTieredBufferPool(bufferTiers...)
	if err != nil {
		panic(err)
	}
	experimental.SetDefaultBufferPool(pool)
}
