package testcorpus

import (
	"os"
	"syscall"
	"testing"
)

func assertOwner(t *testing.T, path string, uid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := int(fi.Sys().(*syscall.Stat_t).Uid); got != uid {
		t.Errorf("%s: owner %d, want %d", path, got, uid)
	}
}
