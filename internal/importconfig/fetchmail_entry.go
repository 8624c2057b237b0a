package importconfig

// Parsing one poll, skip or defaults entry.

func (p *fmParser) entry() (*fmEntry, error) {
	t := p.next()
	e := &fmEntry{kind: t.text, line: t.line}
	if e.kind != "defaults" {
		n := p.next()
		if n.kind != fmString && n.kind != fmNumber {
			return nil, p.errf(n, "%s needs a server name, got %s", e.kind, describe(n))
		}
		e.name = n.text
	}
	var cur *fmUser
	implicit := false // the users are one implicit user, not "user …" ones
	for {
		t := p.peek()
		after := p.keywordAfterNo()
		switch {
		case t.kind == fmEOF || p.isKeyword("poll", "skip", "defaults", "set"):
			return e, nil
		case p.isServerOption():
			if cur != nil {
				return nil, p.errf(t, "server option %s after user options: put server options (%s) right after %s %s",
					describe(t), "protocol, port, auth, timeout…", e.kind, e.name)
			}
			o, err := p.serverOption()
			if err != nil {
				return nil, err
			}
			e.server = append(e.server, o)
		case p.isKeyword("user"):
			if implicit {
				return nil, p.errf(t, `"user" after user options that belong to no user: start the entry's user options with "user NAME"`)
			}
			u, err := p.userdef()
			if err != nil {
				return nil, err
			}
			cur = u
			e.users = append(e.users, u)
		case p.isUserOption():
			if cur == nil {
				// A user with no "user" keyword: named by its entry.
				cur = &fmUser{line: e.line}
				e.users = append(e.users, cur)
				implicit = true
			}
			if err := p.userOption(cur); err != nil {
				return nil, err
			}
		case after != "":
			return nil, p.errf(t, `unknown option "no %s"`, after)
		default:
			return nil, p.errf(t, "unexpected %s in the %s entry at line %d: not a fetchmail option", describe(t), e.kind, e.line)
		}
	}
}

func (p *fmParser) isServerOption() bool {
	t := p.peek()
	if t.kind != fmKeyword {
		return false
	}
	if t.text == "no" {
		return fmServerNo[p.keywordAfterNo()]
	}
	return fmServerString[t.text] || fmServerList[t.text] || fmServerNumber[t.text] || fmServerFlag[t.text] || fmServerOther[t.text]
}

func (p *fmParser) isUserOption() bool {
	t := p.peek()
	if t.kind != fmKeyword {
		return false
	}
	if t.text == "no" {
		k := p.keywordAfterNo()
		return fmUserFlag[k] && k != "lmtp"
	}
	return t.text == "is" || t.text == "to" || fmUserString[t.text] || fmUserList[t.text] || fmUserNumber[t.text] || fmUserFlag[t.text] || t.text == "antispam"
}

func (p *fmParser) serverOption() (fmOpt, error) {
	t := p.next()
	o := fmOpt{key: t.text, line: t.line}
	switch {
	case t.text == "no":
		o.key = "no " + p.next().text
	case fmServerFlag[t.text]:
	case fmServerString[t.text]:
		return o, p.stringArg(&o, t)
	case fmServerList[t.text]:
		return o, p.listArg(&o, t)
	case fmServerNumber[t.text]:
		return o, p.numberArg(&o, t)
	case t.text == "protocol":
		v := p.next()
		if v.kind != fmProto {
			return o, p.errf(v, "protocol must be pop3, apop, imap, auto, pop2, kpop, sdps, rpop, etrn or odmr, got %s", describe(v))
		}
		o.strs = []string{v.text}
	case t.text == "service":
		v := p.next()
		if v.kind != fmString && v.kind != fmNumber {
			return o, p.errf(v, "service needs a port number or service name, got %s", describe(v))
		}
		o.strs = []string{v.text}
	case t.text == "auth":
		v := p.next()
		if v.kind != fmAuth {
			return o, p.errf(v, "auth must be any, password, cram-md5, gssapi, kerberos, ntlm, msn, otp, ssh or external, got %s", describe(v))
		}
		o.strs = []string{v.text}
	case t.text == "envelope":
		if p.peek().kind == fmNumber {
			o.nums = []int{p.next().num}
		}
		return o, p.stringArg(&o, t)
	case t.text == "bad-header":
		v := p.next()
		if v.kind != fmKeyword || (v.text != "accept" && v.text != "reject") {
			return o, p.errf(v, "bad-header must be accept or reject, got %s", describe(v))
		}
		o.strs = []string{v.text}
	}
	return o, nil
}

func (p *fmParser) userOption(u *fmUser) error {
	t := p.next()
	o := fmOpt{key: t.text, line: t.line}
	var err error
	switch {
	case t.text == "no":
		o.key = "no " + p.next().text
	case t.text == "is" || t.text == "to":
		locals, wildcard, err := p.mappings(t)
		if err != nil {
			return err
		}
		if p.isKeyword("there") && t.text == "is" && len(locals) == 1 && locals[0].server == "" && !wildcard {
			p.next()
			u.remote, u.hasRemote = locals[0].local, true
			return nil
		}
		if p.isKeyword("here") {
			p.next()
		}
		u.locals = append(u.locals, locals...)
		u.wildcard = u.wildcard || wildcard
		return nil
	case fmUserFlag[t.text]:
	case fmUserString[t.text]:
		err = p.stringArg(&o, t)
	case fmUserList[t.text]:
		err = p.listArg(&o, t)
	case fmUserNumber[t.text]:
		err = p.numberArg(&o, t)
	case t.text == "antispam":
		for p.peek().kind == fmNumber {
			o.nums = append(o.nums, p.next().num)
		}
		if len(o.nums) == 0 {
			err = p.errf(p.peek(), "antispam needs one or more SMTP response codes, got %s", describe(p.peek()))
		}
	}
	u.opts = append(u.opts, o)
	return err
}

// userdef parses "user NAME", "user NAME there" or "user NAMES… here".
func (p *fmParser) userdef() (*fmUser, error) {
	t := p.next()
	u := &fmUser{line: t.line}
	start := p.pos
	locals, wildcard, err := p.mappings(t)
	if err != nil {
		return nil, err
	}
	if p.isKeyword("here") {
		p.next()
		u.locals, u.wildcard = locals, wildcard
		return u, nil
	}
	if p.isKeyword("there") {
		p.next()
	}
	if len(locals) != 1 || locals[0].server != "" || wildcard {
		first, next := p.toks[start], p.toks[start+1]
		return nil, p.errf(next, `unexpected %s after "user %s": not a fetchmail option (local names after "user" end with "here")`, describe(next), commentText(first.raw))
	}
	u.remote, u.hasRemote = locals[0].local, true
	return u, nil
}

// mappings reads the names after user, is or to: NAME, "*", or
// SERVERNAME=LOCALNAME, one or more.
func (p *fmParser) mappings(after fmToken) (out []fmLocal, wildcard bool, err error) {
	for p.peek().kind == fmString || p.peek().kind == fmNumber {
		s := p.next().text
		if p.isKeyword("=") {
			p.next()
			v := p.next()
			if v.kind != fmString && v.kind != fmNumber {
				return nil, false, p.errf(v, "expected a local name after %q=, got %s", s, describe(v))
			}
			out = append(out, fmLocal{server: s, local: v.text})
			continue
		}
		if s == "*" {
			wildcard = true
			continue
		}
		out = append(out, fmLocal{local: s})
	}
	if len(out) == 0 && !wildcard {
		return nil, false, p.errf(p.peek(), "%s needs a name, got %s", after.raw, describe(p.peek()))
	}
	return out, wildcard, nil
}

func (p *fmParser) stringArg(o *fmOpt, kw fmToken) error {
	v := p.next()
	if v.kind != fmString && v.kind != fmNumber {
		return p.errf(v, "%s needs a value, got %s", kw.raw, describe(v))
	}
	o.strs = append(o.strs, v.text)
	return nil
}

func (p *fmParser) listArg(o *fmOpt, kw fmToken) error {
	for p.peek().kind == fmString {
		o.strs = append(o.strs, p.next().text)
	}
	if len(o.strs) == 0 {
		return p.errf(p.peek(), "%s needs one or more names, got %s", kw.raw, describe(p.peek()))
	}
	return nil
}

func (p *fmParser) numberArg(o *fmOpt, kw fmToken) error {
	v := p.next()
	if v.kind != fmNumber {
		return p.errf(v, "%s needs a number, got %s", kw.raw, describe(v))
	}
	o.nums = []int{v.num}
	return nil
}
