package shard

// deadline is a passivated key's next deadline. The heap is lazy: an item
// whose key woke up or changed deadline since is dropped when it comes
// up, so a key has at most a couple of items at any time.
type deadline struct {
	due int64 // Unix ns
	key string
}

type deadlines []deadline

func (h deadlines) Len() int           { return len(h) }
func (h deadlines) Less(i, j int) bool { return h[i].due < h[j].due }
func (h deadlines) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlines) Push(x any)        { *h = append(*h, x.(deadline)) }
func (h *deadlines) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
