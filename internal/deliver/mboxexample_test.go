package deliver_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"fetchd/internal/deliver"
)

func ExampleMbox() {
	dir, err := os.MkdirTemp("", "mbox")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	m, err := deliver.NewMbox(filepath.Join(dir, "inbox"), nil) // nil: as the user running fetchd
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	env := &deliver.Envelope{From: "a@example.com", Trace: deliver.Trace{DeliveredTo: "u@example.org"}}
	body := strings.NewReader("Subject: hi\r\n\r\nFrom here on\r\n") // as RETR returns it
	// Stage spools the message next to the mbox; the mbox is untouched.
	s, err := m.Stage(ctx, env, body)
	if err != nil {
		log.Fatal(err) // temporary: leave the message on the server
	}
	defer s.Abort() // a no-op once committed
	// Commit locks the mbox, appends and fsyncs.
	if err := s.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	data, _ := os.ReadFile(m.Path)
	_, msg, _ := strings.Cut(string(data), "\n") // the From line holds today's date
	fmt.Printf("%q\n", msg)
	// Output: "Delivered-To: u@example.org\nSubject: hi\n\n>From here on\n\n"
}
