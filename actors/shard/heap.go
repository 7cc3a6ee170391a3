package shard

// deadline is a passivated key's next deadline. The heap is lazy: an item
// whose key woke up or changed deadline since is dropped when it comes
// up, so a key has at most a couple of items at any time.
type deadline struct {
	due int64 // Unix ns
	key string
}

// deadlines is a min-heap by due. It does its own sifting rather than
// container/heap's, whose Push and Pop box every item in an interface:
// an allocation per passivation and per wake.
type deadlines []deadline

func (h *deadlines) push(d deadline) {
	*h = append(*h, d)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].due <= s[i].due {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

// pop removes and returns the earliest; the heap must not be empty.
func (h *deadlines) pop() deadline {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = deadline{}
	s = s[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(s) && s[l].due < s[m].due {
			m = l
		}
		if r := l + 1; r < len(s) && s[r].due < s[m].due {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
