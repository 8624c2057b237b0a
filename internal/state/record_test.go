package state

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestRecordCodec_RoundTrip(t *testing.T) {
	tests := []Record{
		{State: Delivered, Delivered: t1, Size: 1234},
		{State: Delivered, Delivered: t1, Size: 0},
		{State: Deleted, Delivered: t1, Size: 1 << 40, Deleted: t2},
		{State: Deleted, Deleted: t2}, // deleted without delivery
		{State: Delivered, Delivered: time.Unix(0, -1)},
		{State: Delivered, Delivered: time.Unix(0, 1<<63-1)},
	}
	for _, r := range tests {
		b, err := encodeRecord(r)
		if err != nil {
			t.Fatalf("encodeRecord(%+v): %v", r, err)
		}
		if len(b) != recordLen1 || b[0] != recordFormat1 {
			t.Fatalf("encodeRecord(%+v) = %x, want format 1 of %d bytes", r, b, recordLen1)
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("decodeRecord(%x): %v", b, err)
		}
		if !recordEqual(got, r) {
			t.Errorf("round trip: got %+v, want %+v", got, r)
		}
	}
}

// The byte layout is the on-disk format: changing it breaks old stores.
func TestRecordCodec_Layout(t *testing.T) {
	r := Record{State: Deleted, Delivered: time.Unix(0, 0x0102030405060708), Size: 0x1112131415161718, Deleted: time.Unix(0, 0x2122232425262728)}
	want := []byte{1, 2,
		1, 2, 3, 4, 5, 6, 7, 8,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28}
	got, err := encodeRecord(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("encodeRecord = %x, %v; want %x", got, err, want)
	}
}

func TestDecodeRecord_Rejects(t *testing.T) {
	valid, _ := encodeRecord(Record{State: Delivered, Delivered: t1, Size: 5})
	with := func(i int, b ...byte) []byte {
		v := append([]byte{}, valid...)
		copy(v[i:], b)
		return v
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"Nil", nil},
		{"Empty", []byte{}},
		{"VersionOnly", []byte{1}},
		{"Short", valid[:recordLen1-1]},
		{"Long", append(append([]byte{}, valid...), 0)},
		{"Format0", with(0, 0)},
		{"Format2", with(0, 2)},
		{"State0", with(1, 0)},
		{"State3", with(1, 3)},
		{"NegativeSize", with(10, 0x80)},
		{"DeliveredWithDeletedTime", with(25, 1)},
		{"DeletedWithoutDeletedTime", with(1, byte(Deleted))},
	}
	for _, tt := range tests {
		if r, err := decodeRecord(tt.b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decodeRecord(%x) = %+v, %v; want ErrCorrupt", tt.name, tt.b, r, err)
		}
	}
}

// FuzzDecodeRecord: decode never panics, and whatever it accepts encodes back
// to the same bytes (so there is exactly one encoding per record).
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range []Record{
		{State: Delivered, Delivered: t1, Size: 1234},
		{State: Deleted, Delivered: t1, Size: 99, Deleted: t2},
		{State: Deleted, Deleted: t2},
	} {
		b, _ := encodeRecord(r)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeRecord(%x): error %v does not wrap ErrCorrupt", b, err)
			}
			return
		}
		again, err := encodeRecord(r)
		if err != nil {
			t.Fatalf("decodeRecord(%x) = %+v, which encodeRecord rejects: %v", b, r, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decodeRecord(%x) = %+v, which encodes as %x", b, r, again)
		}
	})
}
