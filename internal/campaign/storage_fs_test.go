package campaign

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Real storage faults for the storage campaign: small tmpfs mounts that fill
// up (ENOSPC), a read-only remount (EROFS) and an immutable directory
// (chattr +i, EPERM). Root is needed for all three; permission bits (EACCES)
// mean nothing to root, which is why EPERM and EROFS stand in for them.

// storageNeedRoot skips the test when not root, and fails it under CI=true,
// where the campaign must run.
func storageNeedRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the storage campaign needs root (to mount tmpfs) and CI=true is set")
	}
	t.Skip("the storage campaign needs root, to mount tmpfs")
}

// storageMount mounts a tmpfs of size bytes at dir (created) and unmounts it
// when the test ends.
func storageMount(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10)+",mode=0700", "tmpfs", dir).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
		}
		t.Skipf("cannot mount tmpfs (no CAP_SYS_ADMIN?): %v: %s", err, out)
	}
	t.Cleanup(func() {
		// Lazy, so a file a failing test left open cannot keep it mounted.
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// storageRemount remounts the tmpfs at dir read-only or read-write.
func storageRemount(t *testing.T, dir string, ro bool) {
	t.Helper()
	opt := "remount,rw"
	if ro {
		opt = "remount,ro"
	}
	if out, err := exec.Command("mount", "-o", opt, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount -o %s %s: %v: %s", opt, dir, err, out)
	}
}

// storageImmutable sets or clears the immutable attribute of dir; it skips
// the test when the filesystem does not support it.
func storageImmutable(t *testing.T, dir string, on bool) {
	t.Helper()
	flag := "-i"
	if on {
		flag = "+i"
	}
	out, err := exec.Command("chattr", flag, dir).CombinedOutput()
	if err != nil && on {
		t.Skipf("chattr +i %s: %v: %s (filesystem without the immutable attribute?)", dir, err, out)
	}
	if err != nil {
		t.Errorf("chattr -i %s: %v: %s", dir, err, out)
	}
}

// storageFree returns the bytes available on the filesystem holding dir.
func storageFree(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// storageFill fills the filesystem holding dir until leave bytes (rounded to
// its blocks) are free, with one filler file whose path it returns; removing
// the file brings the space back.
func storageFill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		m, err := f.Write(buf)
		n += int64(m)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatalf("fill %s: %v", dir, err)
		}
	}
	if err := f.Truncate(max(n-leave, 0)); err != nil {
		t.Fatal(err)
	}
	return path
}

// storageErrClass names the storage error a failure reason shows.
func storageErrClass(reason string) string {
	for _, c := range []struct{ text, name string }{
		{"no space left on device", "ENOSPC"},
		{"read-only file system", "EROFS"},
		{"operation not permitted", "EPERM"},
		{"permission denied", "EACCES"},
	} {
		if strings.Contains(reason, c.text) {
			return c.name
		}
	}
	return "other"
}
