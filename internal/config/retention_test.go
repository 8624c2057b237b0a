package config

import (
	"strings"
	"testing"
	"time"
)

func TestParse_RetentionKeys(t *testing.T) {
	setHome(t)
	tests := []struct {
		name  string
		over  map[string]string
		want  string // substring of the one error; "" = valid
		check func(*Account) bool
	}{
		{"defaults", nil, "", func(a *Account) bool {
			return a.Oversize == "skip" && a.DeleteAfter == 0 && a.MaxMessagesPerPoll == 0 && a.MaxBytesPerPoll == 0
		}},
		{"delete_after with keep", map[string]string{"keep": "true", "delete_after": `"30d"`}, "", func(a *Account) bool {
			return a.Keep && a.DeleteAfter == 30*24*time.Hour
		}},
		{"delete_after seconds", map[string]string{"keep": "true", "delete_after": `"2s"`}, "", func(a *Account) bool {
			return a.DeleteAfter == 2*time.Second
		}},
		{"delete_after zero without keep", map[string]string{"delete_after": `"0s"`}, "", func(a *Account) bool {
			return !a.Keep && a.DeleteAfter == 0
		}},
		{"delete_after without keep", map[string]string{"delete_after": `"30d"`},
			`account "work": delete_after: needs keep = true: delete_after keeps each message on the server for that long after delivery`, nil},
		{"delete_after with keep false", map[string]string{"keep": "false", "delete_after": `"1h"`},
			"set keep = true, or remove delete_after", nil},
		{"delete_after negative", map[string]string{"keep": "true", "delete_after": `"-1h"`}, "delete_after: must be 0 (none) or more", nil},
		{"delete_after number", map[string]string{"keep": "true", "delete_after": `30`}, "delete_after: must be a duration string", nil},
		{"oversize delete", map[string]string{"max_message_size": `"25MB"`, "oversize": `"delete"`}, "", func(a *Account) bool {
			return a.Oversize == "delete" && a.MaxMessageSize == 25e6
		}},
		{"oversize delete in keep mode", map[string]string{"keep": "true", "max_message_size": `"1MB"`, "oversize": `"delete"`}, "", func(a *Account) bool {
			return a.Oversize == "delete" && a.Keep
		}},
		{"oversize skip without max_message_size", map[string]string{"oversize": `"skip"`}, "", func(a *Account) bool {
			return a.Oversize == "skip"
		}},
		{"oversize delete without max_message_size", map[string]string{"oversize": `"delete"`},
			`account "work": oversize: "delete" deletes messages over max_message_size, which is not set`, nil},
		{"oversize bad", map[string]string{"oversize": `"bounce"`}, `oversize: must be one of "skip", "delete", got "bounce"`, nil},
		{"per-poll limits", map[string]string{"max_messages_per_poll": "100", "max_bytes_per_poll": `"50MB"`}, "", func(a *Account) bool {
			return a.MaxMessagesPerPoll == 100 && a.MaxBytesPerPoll == 50e6
		}},
		{"max_messages_per_poll negative", map[string]string{"max_messages_per_poll": "-1"}, "max_messages_per_poll: must be 0..", nil},
		{"max_bytes_per_poll negative", map[string]string{"max_bytes_per_poll": "-5"}, "max_bytes_per_poll: must be 0 (no limit) or more", nil},
		{"max_bytes_per_poll junk", map[string]string{"max_bytes_per_poll": `"lots"`}, "max_bytes_per_poll:", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := accountTOML(tt.over, false)
			if tt.want != "" {
				errs := mustFail(t, data, tt.want)
				if len(errs.Problems) != 1 {
					t.Errorf("got %d problems, want 1:\n%v", len(errs.Problems), errs)
				}
				return
			}
			if a := mustParse(t, data).Accounts[0]; !tt.check(a) {
				t.Errorf("check failed for %v: %+v", tt.over, a)
			}
		})
	}
}

// The rules hold for values inherited from [defaults] too, and are
// reported once per account that breaks them.
func TestParse_RetentionInherited(t *testing.T) {
	setHome(t)
	data := "[defaults]\ndelete_after = \"7d\"\noversize = \"delete\"\nmax_message_size = \"10MB\"\n\n" +
		accountTOML(map[string]string{"keep": "true"}, false) + "\n" +
		asHome(accountTOML(map[string]string{"max_message_size": `"0"`}, false))
	errs := mustFail(t, data, `account "home": delete_after: needs keep = true`, `account "home": oversize: "delete" deletes messages over max_message_size`)
	if len(errs.Problems) != 2 {
		t.Errorf("got %d problems, want 2 (both for home):\n%v", len(errs.Problems), errs)
	}
	if strings.Contains(errs.Error(), `account "work"`) {
		t.Errorf("account work inherits valid values, but got:\n%v", errs)
	}
}

func TestDescribe_Retention(t *testing.T) {
	setHome(t)
	cfg := mustParse(t, accountTOML(map[string]string{
		"keep": "true", "delete_after": `"30d"`, "max_message_size": `"5MB"`, "oversize": `"delete"`,
	}, false))
	got := cfg.Accounts[0].Describe()
	if !strings.Contains(got, "keep on server, delete 30d after delivery, delete undelivered if over max_message_size") {
		t.Errorf("Describe = %q", got)
	}
	cfg = mustParse(t, accountTOML(map[string]string{"keep": "true", "delete_after": `"36h"`}, false))
	if got := cfg.Accounts[0].Describe(); !strings.Contains(got, "delete 36h0m0s after delivery") {
		t.Errorf("Describe = %q", got)
	}
}
