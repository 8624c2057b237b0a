package smtptest

import (
	"errors"
	"io"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Reply returns the error a fault injects as the reply code, enhanced
// status code ("5.1.1"; "" for the generic X.0.0) and text.
func Reply(code int, enhanced, text string) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: text}
	var ec smtp.EnhancedCode
	n, i := 0, 0
	for _, c := range enhanced {
		switch {
		case c >= '0' && c <= '9' && i < 3:
			ec[i] = ec[i]*10 + int(c-'0')
			n++
		case c == '.':
			i++
		}
	}
	if n > 0 && i == 2 {
		e.EnhancedCode = ec
	}
	return e
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

// session is one client's transaction state.
type session struct {
	s    *Server
	conn *smtp.Conn
	msg  Message
	to   []string
}

var (
	_ smtp.LMTPSession = (*session)(nil)
	_ smtp.AuthSession = (*session)(nil)
)

func (ss *session) Reset() { ss.msg, ss.to = Message{}, nil }

func (ss *session) Logout() error { return nil }

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	ss.s.mu.Lock()
	ss.s.auths++
	ss.s.mu.Unlock()
	if mech != sasl.Plain || ss.s.opts.User == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.s.opts.User || pass != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		return nil
	}), nil
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if err := ss.s.getFaults().MailErr; err != nil {
		return err
	}
	ss.msg = Message{From: from}
	if opts != nil {
		ss.msg.Size, ss.msg.Body, ss.msg.UTF8 = opts.Size, string(opts.Body), opts.UTF8
	}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.s.getFaults().RcptErr[to]; err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

// read takes the message to its final dot and applies the faults that come
// before the reply. It reports false when the connection was dropped.
func (ss *session) read(r io.Reader, f Faults) ([]byte, bool, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, false, err
	}
	if f.DropAfterDot {
		// The message arrived whole: a real server may well have queued it.
		ss.s.record(Message{From: ss.msg.From, To: append([]string(nil), ss.to...), Data: data,
			Size: ss.msg.Size, Body: ss.msg.Body, UTF8: ss.msg.UTF8})
		ss.conn.Conn().Close()
		return nil, false, errors.New("smtptest: connection dropped after the final dot")
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	return data, true, nil
}

func (ss *session) Data(r io.Reader) error {
	f := ss.s.getFaults()
	data, ok, err := ss.read(r, f)
	if !ok {
		return err
	}
	if f.DataErr != nil {
		return f.DataErr
	}
	m := ss.msg
	m.To, m.Data = append([]string(nil), ss.to...), data
	ss.s.record(m)
	return nil
}

func (ss *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	f := ss.s.getFaults()
	data, ok, err := ss.read(r, f)
	if !ok {
		return err
	}
	m := ss.msg
	m.Data = data
	for _, to := range ss.to {
		err := f.LMTPErr[to]
		if err == nil {
			err = f.DataErr
		}
		if err == nil {
			m.To = append(m.To, to)
		}
		status.SetStatus(to, err)
	}
	if len(m.To) > 0 {
		ss.s.record(m)
	}
	return nil
}
