package schedule

import (
	"crypto/pbkdf2"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/robfig/cron/v3"

	"fetchd/internal/config"
	"fetchd/internal/state"
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

// spread returns the schedule an account's polls follow. An "@every"
// interval has no time of day of its own: each account gets a fixed place
// in it, from a hash of its name (phased), so that many accounts with the
// same interval are spread evenly over it instead of all starting together
// and queueing for connections, which made the gaps between one account's
// polls vary by the length of the queue (1,000 accounts every 30 s: gaps up
// to 45 s). A time-of-day schedule keeps its times, with jitter.
func spread(name string, sched cron.Schedule, jitter time.Duration) cron.Schedule {
	if cs, ok := sched.(cron.ConstantDelaySchedule); ok && jitter > 0 && cs.Delay > 0 {
		h := fnv.New64a()
		io.WriteString(h, name)
		return phased{every: cs.Delay, phase: time.Duration(h.Sum64() % uint64(cs.Delay))}
	}
	return &jittered{inner: sched, max: jitter}
}

// phased activates at every instant phase + k·every (k an integer) since the
// Unix epoch: the same places in the interval every time, across restarts.
type phased struct {
	every, phase time.Duration
}

func (p phased) Next(t time.Time) time.Time {
	since := t.Sub(time.Unix(0, 0).Add(p.phase))
	k := since / p.every
	next := time.Unix(0, 0).Add(p.phase + (k+1)*p.every)
	if !next.After(t) {
		next = next.Add(p.every)
	}
	return next
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

// proofIterations makes a recorded pause's proof slow to test guesses
// against: it is derived from the credentials, password included, and the
// state file may be read by someone who should not learn the password.
const proofIterations = 200_000

// newPause is the record of a pause, with a salted, slow proof of the
// credentials (fingerprint fp) the server rejected, so that a restart can
// tell whether they changed without the store holding them.
func newPause(reason, fp string) *state.Pause {
	salt := make([]byte, 16)
	crand.Read(salt)
	proof, _ := pbkdf2.Key(sha256.New, fp, salt, proofIterations, 32)
	return &state.Pause{Since: time.Now(), Reason: reason, Salt: salt, Proof: proof}
}

// pauseMatches reports whether p was recorded for the credentials whose
// fingerprint is fp.
func pauseMatches(p *state.Pause, fp string) bool {
	if len(p.Salt) == 0 || len(p.Proof) == 0 {
		return true // no proof to compare: keep the pause, resume lifts it
	}
	proof, err := pbkdf2.Key(sha256.New, fp, p.Salt, proofIterations, 32)
	return err == nil && subtle.ConstantTimeCompare(proof, p.Proof) == 1
}
