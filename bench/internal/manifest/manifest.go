// Package manifest reads and writes the list of messages in a benchmark corpus
// cache (bench/corpus gen): one "ID<TAB>NAME<TAB>SIZE" line per message, the
// message itself in msgs/NAME, starting with an "X-Bench-Id: ID" header field.
package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Entry is one message of a corpus.
type Entry struct {
	ID   int
	Name string
	Size int64
}

// FileName is a valid maildir file name for message id; Dovecot accepts it
// and keeps it (adding ":2,..." when it moves the file to cur/).
func FileName(id int) string { return fmt.Sprintf("1709283600.M%dP0.bench", id) }

// Path is where the cache holds e.
func Path(cache string, e Entry) string { return filepath.Join(cache, "msgs", e.Name) }

// Write writes the manifest lines for es to w.
func Write(w io.Writer, es []Entry) error {
	bw := bufio.NewWriter(w)
	for _, e := range es {
		fmt.Fprintf(bw, "%d\t%s\t%d\n", e.ID, e.Name, e.Size)
	}
	return bw.Flush()
}

// Read returns the entries of the cache in dir, in ID order.
func Read(cache string) ([]Entry, error) {
	data, err := os.ReadFile(filepath.Join(cache, "manifest"))
	if err != nil {
		return nil, err
	}
	var es []Entry
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("%s/manifest: bad line %q", cache, line)
		}
		id, err1 := strconv.Atoi(f[0])
		size, err2 := strconv.ParseInt(f[2], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%s/manifest: bad line %q: %w", cache, line, err)
		}
		es = append(es, Entry{id, f[1], size})
	}
	return es, nil
}
