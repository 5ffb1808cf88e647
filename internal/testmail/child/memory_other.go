//go:build unix && !linux

package child

// memoryDir is "": elsewhere servers' files stay in the temporary
// directory.
func memoryDir() string { return "" }
