package pop3test

import "bytes"

var crlf = []byte("\r\n")

// stuff returns body as sent in a multi-line reply, without the ".\r\n"
// terminator. RFC 1939 §3: a line starting with "." gets another "." in
// front. A line starts at the start of body or after CRLF; a bare LF is data,
// so a "." after it is not stuffed (it cannot end the reply either). A
// non-empty body not ending with CRLF gets one, so the terminator starts a line.
func stuff(body []byte) []byte {
	if len(body) == 0 {
		return nil
	}
	out := make([]byte, 0, len(body)+len(body)/64+4)
	lineStart := true
	for i, c := range body {
		if lineStart && c == '.' {
			out = append(out, '.')
		}
		out = append(out, c)
		lineStart = c == '\n' && i > 0 && body[i-1] == '\r'
	}
	if !bytes.HasSuffix(body, crlf) {
		out = append(out, crlf...)
	}
	return out
}

// top returns the header section, the blank line after it, and the first
// lines lines of the body (RFC 1939 §7 TOP). Without a blank line the whole
// message is header.
func top(body []byte, lines int) []byte {
	var end int
	if bytes.HasPrefix(body, crlf) {
		end = len(crlf) // empty header section
	} else if i := bytes.Index(body, []byte("\r\n\r\n")); i >= 0 {
		end = i + 4
	} else {
		return body
	}
	for ; lines > 0 && end < len(body); lines-- {
		i := bytes.Index(body[end:], crlf)
		if i < 0 {
			return body
		}
		end += i + len(crlf)
	}
	return body[:end]
}
