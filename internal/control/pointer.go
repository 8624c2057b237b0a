package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// pointerSuffix names the pointer file beside the state store.
const pointerSuffix = ".control"

// pointer is the content of a pointer file.
type pointer struct {
	Socket string `json:"socket"`
	PID    int    `json:"pid"`
}

func pointerPath(statePath string) string { return statePath + pointerSuffix }

// WritePointer records, beside the state store at statePath, that this
// process serves it on socketPath: a CLI run with another environment
// (another XDG_RUNTIME_DIR, outside systemd) still finds the daemon. The
// file is replaced atomically, mode 0600.
func WritePointer(statePath, socketPath string) error {
	abs, err := filepath.Abs(socketPath)
	if err != nil {
		return fmt.Errorf("control pointer: %w", err)
	}
	data, err := json.Marshal(pointer{Socket: abs, PID: os.Getpid()})
	if err != nil {
		return fmt.Errorf("control pointer: %w", err)
	}
	path := pointerPath(statePath)
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*") // mode 0600
	if err != nil {
		return fmt.Errorf("control pointer: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("control pointer %s: %w", path, err)
	}
	return nil
}

// RemovePointer removes the pointer file of the state store at statePath
// if this process wrote it (or it cannot be read): a daemon that stops
// does not remove the pointer of one that has since taken over the store.
func RemovePointer(statePath string) {
	path := pointerPath(statePath)
	if p, err := readPointer(statePath); err == nil && p.PID != os.Getpid() {
		return
	}
	os.Remove(path)
}

func readPointer(statePath string) (pointer, error) {
	var p pointer
	data, err := os.ReadFile(pointerPath(statePath))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, err
	}
	if p.Socket == "" {
		return p, errors.New("no socket")
	}
	return p, nil
}
