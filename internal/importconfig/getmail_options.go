package importconfig

import "strconv"

// gmOptionNotes are the [options] keys fetchd has no key for.
var gmOptionNotes = map[string]string{
	"verbose":                 whyLogging,
	"message_log":             whyLogging,
	"message_log_syslog":      whyLogging,
	"message_log_verbose":     whyLogging,
	"logfile":                 whyLogging,
	"use_netrc":               "fetchd does not read ~/.netrc: the password goes in password_file or comes from password_command",
	"netrc_file":              "fetchd does not read netrc files",
	"to_oldmail_on_each_mail": "not needed: fetchd records each message as soon as it is delivered",
	"skip_imap_fetch_size":    "IMAP only",
	"fingerprint":             "fetchd doctor ACCOUNT shows the server's certificate and its fingerprints",
	"delete_bigger_than":      "fetchd deletes a message it has delivered only by keep and delete_after; oversize = \"delete\" deletes large ones undelivered instead",
}

var gmOptionKeys = wordSet(`read_all delete delete_after max_bytes_per_session max_message_size
	max_messages_per_session received delivered_to`)

// options translates the [options] section. getmail's defaults differ
// from fetchd's: it keeps mail on the server (delete = false) and fetches
// every message again on each run (read_all = true).
func (t *gmTranslator) options(s *iniSection) {
	a := t.a
	if s != nil {
		for _, k := range s.order {
			v := s.keys[k]
			switch why, known := gmOptionNotes[k]; {
			case known:
				t.note(v, k, why)
			case !gmOptionKeys[k]:
				t.note(v, k, "not a getmail option")
			}
		}
	}
	del := t.gmBool(s, "delete", false)
	a.Keep = !del
	readAll, explicit := t.gmBool(s, "read_all", true), false
	if v, ok := s.get("read_all"); ok {
		explicit = true
		if readAll && a.Keep {
			t.note(v, "read_all", "fetchd fetches each message once, as getmail does with read_all = false")
		}
	}
	if readAll && a.Keep && !explicit {
		a.comment("getmail kept mail on the server and, by default (read_all), fetched all of it again on")
		a.comment("every run; fetchd keeps it too but fetches each message once.")
	}
	if n, ok := t.gmInt(s, "delete_after"); ok && n > 0 {
		if del {
			t.note(s.keys["delete_after"], "delete_after", "delete = true takes precedence: messages are deleted at once")
		} else {
			a.DeleteAfter = strconv.FormatInt(n, 10) + "d"
		}
	}
	if n, ok := t.gmInt(s, "max_message_size"); ok && n > 0 {
		a.MaxMessageSize = strconv.FormatInt(n, 10)
	}
	if n, ok := t.gmInt(s, "max_messages_per_session"); ok && n > 0 && n < 1<<30 {
		a.MaxMessagesPerPoll = int(n)
	}
	if n, ok := t.gmInt(s, "max_bytes_per_session"); ok && n > 0 {
		a.MaxBytesPerPoll = n
	}
	if !t.gmBool(s, "received", true) {
		off := false
		a.TraceHeaders = &off
	}
	if v, ok := s.get("delivered_to"); ok && !t.gmBool(s, "delivered_to", true) {
		t.note(v, "delivered_to", "fetchd adds Delivered-To: to messages for local targets (maildir, mbox, MDA)")
	}
}
