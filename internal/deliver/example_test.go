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

func ExampleMaildir() {
	dir, err := os.MkdirTemp("", "maildir")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	m, err := deliver.NewMaildir(filepath.Join(dir, "Mail"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	body := strings.NewReader("Subject: hi\r\n\r\nhello\r\n") // as RETR returns it
	s, err := m.Stage(ctx, &deliver.Envelope{UIDL: "abc", Size: 22}, body)
	if err != nil {
		log.Fatal(err) // temporary: leave the message on the server
	}
	defer s.Abort() // a no-op once committed
	if err := s.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	// Only now record the UIDL, and only after that send DELE.
	data, _ := os.ReadFile(s.(deliver.MaildirStaged).FinalPath())
	fmt.Printf("%q\n", data)
	// Output: "Subject: hi\n\nhello\n"
}
