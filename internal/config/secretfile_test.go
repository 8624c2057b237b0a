package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteSecretFile(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	p := filepath.Join(dir, "a.password")
	if err := WriteSecretFile(p, "s3cret"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if b, _ := os.ReadFile(p); err != nil || fi.Mode().Perm() != 0o600 || string(b) != "s3cret\n" {
		t.Fatalf("file %q, mode %v (%v); want the secret and a newline, mode 0600", b, fi.Mode(), err)
	}
	err = WriteSecretFile(p, "other")
	if !errors.Is(err, fs.ErrExist) || strings.Contains(err.Error(), "other") {
		t.Errorf("second write: %v, want ErrExist without the secret", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "s3cret\n" {
		t.Errorf("the existing file was changed: %q", b)
	}
	target := filepath.Join(dir, "target")
	link := filepath.Join(dir, "link.password")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteSecretFile(link, "x"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("write through a symlink: %v, want ErrExist", err)
	}
	if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the symlink was followed: %v", err)
	}
}
