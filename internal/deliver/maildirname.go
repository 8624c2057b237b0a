package deliver

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxNameAttempts bounds the retries when a freshly made unique name is
// already taken, which takes a clock step back plus a pid reuse plus a
// random collision; more than a few means something else is wrong.
const maxNameAttempts = 5

// deliveryCounter is the Q part of unique names. The maildir spec asks for
// uniqueness within the process, so this one counter is deliberately shared by
// every Maildir (the only package-level state here).
var deliveryCounter atomic.Uint64

// uniqueName returns a maildir base name in Dovecot's form:
//
//	<unix seconds>.M<microseconds>P<pid>Q<counter>R<random hex>.<hostname>
//
// The random part guards against pid reuse after a reboot with the clock set
// back, and against two hosts with one name sharing a maildir over NFS.
func (m *Maildir) uniqueName() string {
	now := time.Now()
	var r [8]byte
	rand.Read(r[:]) // never fails (crypto/rand crashes the program instead)
	return fmt.Sprintf("%d.M%dP%dQ%dR%x.%s", now.Unix(), now.Nanosecond()/1000,
		os.Getpid(), deliveryCounter.Add(1), r[:], m.host)
}

// newPath is the name a message gets in new/: its tmp/ base plus Dovecot's
// ",S=<size on disk>", which lets Dovecot count quota without a stat. The
// maildir spec's ":2,<flags>" info part is for cur/ only, so none is added.
func (m *Maildir) newPath(base string, size int64) string {
	return filepath.Join(m.Path, "new", base+",S="+strconv.FormatInt(size, 10))
}

// hostEscaper applies the maildir spec's escapes for '/' and ':' and escapes
// ',' the same way, since Dovecot reads ",S=" and ",W=" fields after a comma.
var hostEscaper = strings.NewReplacer("/", `\057`, ":", `\072`, ",", `\054`)

func escapeHost(h string) string { return hostEscaper.Replace(h) }

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}
