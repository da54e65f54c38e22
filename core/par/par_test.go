package par

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLimit(t *testing.T) {
	n := runtime.GOMAXPROCS(0)
	assert.Equal(t, n, Workers())
	restore := Limit(1)
	assert.Equal(t, 1, Workers())
	inner := Limit(n + 5) // a cap above GOMAXPROCS changes nothing
	assert.Equal(t, n, Workers())
	inner()
	assert.Equal(t, 1, Workers())
	restore()
	assert.Equal(t, n, Workers())
}
