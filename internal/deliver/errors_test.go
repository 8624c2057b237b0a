package deliver

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

func TestIsPermanent(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"unclassified", base, false},
		{"temporary", Temporary("smtp x", "data", base), false},
		{"permanent", Permanent("smtp x", "rcpt", base), true},
		{"wrapped permanent", fmt.Errorf("deliver 3: %w", Permanent("smtp x", "rcpt", base)), true},
		{"wrapped temporary", fmt.Errorf("deliver 3: %w", Temporary("smtp x", "rcpt", base)), false},
		{"temporary around permanent: outermost decides", Temporary("mda x", "run", Permanent("smtp x", "rcpt", base)), false},
		{"struct literal", &Error{Permanent: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.want {
				t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestError(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Target: "maildir /x", Op: "write tmp/a", Err: syscall.ENOSPC}, "maildir /x: write tmp/a: no space left on device"},
		{&Error{Target: "maildir /x", Err: fs.ErrExist}, "maildir /x: file already exists"},
		{&Error{Op: "link"}, "link"},
		{&Error{}, "delivery failed"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}

	err := Temporary("maildir /x", "write", syscall.EDQUOT)
	if !errors.Is(err, syscall.EDQUOT) {
		t.Errorf("errors.Is(%v, EDQUOT) = false, want true", err)
	}
	var e *Error
	if !errors.As(err, &e) || !e.Temporary() || e.Permanent {
		t.Errorf("Temporary(...) = %#v, want a temporary *Error", err)
	}
	if e := Permanent("t", "op", nil).(*Error); e.Temporary() {
		t.Errorf("Permanent(...).Temporary() = true, want false")
	}
}
