package pop3_test

import (
	"context"
	"io"
	"log"
	"os"
	"time"

	"fetchd/internal/pop3"
)

// A poll in outline: the durable delivery between RETR and DELE is left out.
func Example() {
	ctx := context.Background()
	c, err := pop3.Dial(ctx, pop3.Config{Addr: "pop.example.org:995", Timeout: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "user", os.Getenv("POP3_PASSWORD"), pop3.AuthAuto); err != nil {
		log.Fatal(err) // errors.As(err, &*pop3.Error) and IsAuth() tell a wrong password
	}
	msgs, err := c.UIDL(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		body, err := c.Retr(ctx, m.Num)
		if err != nil {
			log.Fatal(err)
		}
		_, err = io.Copy(io.Discard, body) // deliver here
		body.Close()
		if err != nil {
			log.Fatal(err)
		}
		if err := c.Dele(ctx, m.Num); err != nil {
			log.Fatal(err)
		}
	}
	// Only a nil error from Quit means the deletions were committed.
	if err := c.Quit(ctx); err != nil {
		log.Fatal(err)
	}
}
