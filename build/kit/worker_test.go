package kit

import (
	"os/exec"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/db"
	bolt "go.etcd.io/bbolt"
)

// TestWorker_NoProxyAndNoSyncs: the build's worker makes no network proxy
// (BuildKit's made an RSA key for it at every start) and offers the host's
// network and none; its databases commit without syncs (unsynced.go).
func TestWorker_NoProxyAndNoSyncs(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("no runc on PATH")
	}
	opt, err := workerOpt(t.TempDir(), runc)
	if err != nil {
		t.Fatal(err)
	}
	if opt.ProxyProvider != nil {
		t.Error("the worker has a network proxy")
	}
	for _, mode := range []pb.NetMode{pb.NetMode_UNSET, pb.NetMode_HOST, pb.NetMode_NONE} {
		if opt.NetworkProviders[mode] == nil {
			t.Errorf("no network provider for %s", mode)
		}
	}
	records, ok := opt.ContentMetadata.(db.Transactor)
	if !ok {
		t.Fatalf("the worker's records are a %T", opt.ContentMetadata)
	}
	for name, db := range map[string]db.Transactor{"the worker's records": records, "the cache metadata": opt.MetadataStore.DB()} {
		_ = db.View(func(tx *bolt.Tx) error {
			if !tx.DB().NoSync {
				t.Errorf("%s are synced at every commit", name)
			}
			return nil
		})
	}
}
