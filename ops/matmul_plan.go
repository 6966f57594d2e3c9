package ops

// mmPlanCache keeps the geometry (matmulShape) of the last few pairs of
// input shapes a MatMul node saw (shapeCache), so that a run with shapes
// seen before, the steady state, resolves its batched product without
// allocating. It is safe for concurrent runs.
type mmPlanCache struct {
	plans shapeCache[*mmShape]
}

// get returns matmulShape(sa, sb), from the cache when the shapes were
// seen lately. The result is shared: callers must not change it (copying
// the struct to change its fields is fine).
func (c *mmPlanCache) get(sa, sb []int) (*mmShape, error) {
	key := shapeKey{sa, sb}
	if s, ok := c.plans.get(key); ok {
		return s, nil
	}
	s, err := matmulShape(sa, sb)
	if err != nil {
		return nil, err
	}
	c.plans.put(key, s)
	return s, nil
}
