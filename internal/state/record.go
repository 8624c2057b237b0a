package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// RecordState is what fetchd knows happened to a message.
type RecordState uint8

// The values are stored on disk: never renumber them.
const (
	// Delivered: the message is durable at its destination. If the server
	// still lists it (its DELE was rolled back), it is DELEd again, never
	// delivered again.
	Delivered RecordState = 1
	// Deleted: the server answered +OK to the QUIT after our DELE.
	Deleted RecordState = 2

	// 3 is reserved for Delivering, the crash-recovery intent log.
)

func (s RecordState) String() string {
	switch s {
	case Delivered:
		return "delivered"
	case Deleted:
		return "deleted"
	}
	return fmt.Sprintf("RecordState(%d)", uint8(s))
}

// Record is what the store remembers about one message, keyed by its UIDL.
type Record struct {
	State     RecordState
	Delivered time.Time // when it was delivered; zero for a message deleted without delivery
	Size      int64     // octets, as the server's LIST reported or as delivered
	Deleted   time.Time // zero unless State == Deleted
}

// ErrCorrupt is wrapped by errors for stored values that cannot be decoded.
var ErrCorrupt = errors.New("corrupt record")

// Record value format 1, big-endian, 26 bytes:
//
//	[0]      record format version (1)
//	[1]      state (RecordState)
//	[2:10]   delivered, Unix nanoseconds, int64; 0 = zero time.Time
//	[10:18]  size, int64, >= 0
//	[18:26]  deleted, Unix nanoseconds, int64; 0 = zero time.Time, and 0 unless state is Deleted
//
// The version byte lets a later schema rewrite records lazily or detect a record
// it cannot read; today a reader accepts exactly format 1 and exactly 26 bytes.
const (
	recordFormat1 = 1
	recordLen1    = 26
)

// Times a record can hold: int64 Unix nanoseconds cover 1678-2262. The Unix
// epoch itself is excluded because 0 means "zero time".
var (
	minRecordTime = time.Unix(0, -1<<63)
	maxRecordTime = time.Unix(0, 1<<63-1)
)

// encodeRecord returns r in the current record format. It rejects any record
// that decodeRecord would reject, so every encoded value decodes to r.
func encodeRecord(r Record) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, recordLen1)
	b[0] = recordFormat1
	b[1] = byte(r.State)
	binary.BigEndian.PutUint64(b[2:10], uint64(timeToNanos(r.Delivered)))
	binary.BigEndian.PutUint64(b[10:18], uint64(r.Size))
	binary.BigEndian.PutUint64(b[18:26], uint64(timeToNanos(r.Deleted)))
	return b, nil
}

// decodeRecord parses a stored value. It never panics; every failure wraps
// ErrCorrupt. Callers add the account and UIDL.
func decodeRecord(b []byte) (Record, error) {
	if len(b) == 0 {
		return Record{}, fmt.Errorf("%w: empty value", ErrCorrupt)
	}
	if b[0] != recordFormat1 {
		return Record{}, fmt.Errorf("%w: unknown record format %d", ErrCorrupt, b[0])
	}
	if len(b) != recordLen1 {
		return Record{}, fmt.Errorf("%w: format %d record is %d bytes, want %d", ErrCorrupt, b[0], len(b), recordLen1)
	}
	r := Record{
		State:     RecordState(b[1]),
		Delivered: nanosToTime(int64(binary.BigEndian.Uint64(b[2:10]))),
		Size:      int64(binary.BigEndian.Uint64(b[10:18])),
		Deleted:   nanosToTime(int64(binary.BigEndian.Uint64(b[18:26]))),
	}
	if err := r.validate(); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return r, nil
}

func (r Record) validate() error {
	switch r.State {
	case Delivered:
		if !r.Deleted.IsZero() {
			return errors.New("deleted time set on a record that is not deleted")
		}
	case Deleted:
		if r.Deleted.IsZero() {
			return errors.New("deleted record without a deleted time")
		}
	default:
		return fmt.Errorf("unknown state %d", uint8(r.State))
	}
	if r.Size < 0 {
		return fmt.Errorf("negative size %d", r.Size)
	}
	if err := checkTime(r.Delivered); err != nil {
		return fmt.Errorf("delivered time: %w", err)
	}
	if err := checkTime(r.Deleted); err != nil {
		return fmt.Errorf("deleted time: %w", err)
	}
	return nil
}

func checkTime(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(minRecordTime) || t.After(maxRecordTime) {
		return fmt.Errorf("%s is outside the years 1678-2262", t.Format(time.RFC3339))
	}
	if t.UnixNano() == 0 {
		return errors.New("the Unix epoch is reserved for the zero time")
	}
	return nil
}

func timeToNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nanosToTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
