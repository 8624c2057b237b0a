package deliver

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMaildir_CleanTmp(t *testing.T) {
	m, err := NewMaildir(filepath.Join(t.TempDir(), "M"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	write := func(name string, age time.Duration) string {
		p := filepath.Join(m.Path, "tmp", name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, now.Add(-age), now.Add(-age))
		return p
	}
	old := write("old", 40*time.Hour)
	fresh := write("fresh", time.Hour)
	n, err := m.CleanTmp(now, TmpMaxAge)
	if err != nil || n != 1 {
		t.Fatalf("CleanTmp = %d, %v; want 1 removed", n, err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("old tmp file still there")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh tmp file removed: a delivery may be writing it")
	}
}
