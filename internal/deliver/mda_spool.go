package deliver

import (
	"bufio"
	"context"
	"io"
	"os"
)

// spoolMessage writes the trace header and body, in LF form, to a new file
// in the spool directory and returns it open, unlinked and rewound, with
// its size.
func (m *MDA) spoolMessage(ctx context.Context, env *Envelope, body io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp(m.spool, "fetchd-mda-*") // O_EXCL, 0600
	if err != nil {
		return nil, 0, Temporary(m.name, "create spool file", err)
	}
	name := f.Name()
	// Unlink now: the command reads it through the descriptor. Removing it
	// later by name could remove another delivery's file that reused it.
	unlinked := os.Remove(name) == nil
	ok := false
	defer func() {
		if !unlinked {
			os.Remove(name)
		}
		if !ok {
			f.Close()
		}
	}()

	bw := bufio.NewWriterSize(f, 64<<10)
	lw := NewLFWriter(bw)
	wfail := func(err error) error { return Temporary(m.name, "write spool file "+name, err) }
	if _, err := lw.Write(env.Trace.Header(true)); err != nil {
		return nil, 0, wfail(err)
	}
	buf := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, Temporary(m.name, "read body", context.Cause(ctx))
		}
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := lw.Write(buf[:n]); err != nil {
				return nil, 0, wfail(err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, 0, Temporary(m.name, "read body", rerr)
		}
	}
	if err := lw.Flush(); err != nil {
		return nil, 0, wfail(err)
	}
	if err := bw.Flush(); err != nil {
		return nil, 0, wfail(err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return nil, 0, wfail(err)
	}
	ok = true
	return f, size, nil
}
