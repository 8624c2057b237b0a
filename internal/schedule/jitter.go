package schedule

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/robfig/cron/v3"

	"fetchd/internal/config"
)

// jittered delays each activation of a schedule by a random amount, at most
// max and at most a tenth of the interval, so that accounts on one server
// with the same schedule do not connect in lockstep. The previous delay is
// taken off before the next activation is computed, so delays do not add up
// and an "@every 5m" account still polls every five minutes on average.
//
// cron calls Next only from its own goroutine, which is what makes last safe
// without a lock.
type jittered struct {
	inner cron.Schedule
	max   time.Duration
	rand  func(n int64) int64 // [0, n); nil: math/rand/v2
	last  time.Duration
}

func (j *jittered) Next(t time.Time) time.Time {
	base := j.inner.Next(t.Add(-j.last))
	j.last = 0
	if base.IsZero() {
		return base
	}
	limit := min(j.max, j.inner.Next(base).Sub(base)/10)
	if limit > 0 {
		r := rand.Int64N
		if j.rand != nil {
			r = j.rand
		}
		j.last = time.Duration(r(int64(limit)))
	}
	return base.Add(j.last)
}

// parseSchedule parses an account's schedule as the config validated it.
func parseSchedule(spec string) (cron.Schedule, error) {
	return cron.ParseStandard(spec)
}

// credentialsFingerprint identifies an account's credentials without
// holding them: a reload that changes it lifts an [AUTH] pause. It covers
// the password file's content, so fixing the password in the file and
// reloading is enough; a password command is not run, only its argv counts.
func credentialsFingerprint(a *config.Account) string {
	h := sha256.New()
	for _, s := range []string{a.User, a.Auth, a.Password, a.PasswordFile} {
		io.WriteString(h, s)
		h.Write([]byte{0})
	}
	for _, s := range a.PasswordCommand {
		io.WriteString(h, s)
		h.Write([]byte{0})
	}
	if a.PasswordFile != "" {
		if b, err := os.ReadFile(a.PasswordFile); err == nil {
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
