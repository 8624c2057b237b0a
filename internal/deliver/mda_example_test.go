package deliver_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"fetchd/internal/deliver"
)

func ExampleMDA() {
	// A real configuration: deliver.MDAConfig{Argv: []string{"/usr/bin/procmail", "-f", "%F", "-d", "%T"}}.
	// This command reads the message and then asks to be retried later.
	m, err := deliver.NewMDA(deliver.MDAConfig{Shell: "cat > /dev/null; exit 75"})
	if err != nil {
		log.Fatal(err)
	}
	env := &deliver.Envelope{From: "a@example.org", Recipients: []string{"user"}}
	body := strings.NewReader("Subject: hi\r\n\r\nhello\r\n") // as RETR returns it
	_, err = m.Stage(context.Background(), env, body)
	fmt.Println(err)
	fmt.Println("permanent:", deliver.IsPermanent(err))
	// Output:
	// mda_shell cat > /dev/null; exit 75: /bin/sh exited with status 75 (temporary failure)
	// permanent: false
}
