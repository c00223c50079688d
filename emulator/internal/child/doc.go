// Package child makes the commands devstack runs die with it.
package child
