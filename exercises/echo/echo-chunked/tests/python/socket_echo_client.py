#!/usr/bin/env python3
# socket_echo_client.py: the client of the handout "Echo Client/Server"
# (004_89b07ea1eb812723.txt). The handout shows only this program's output; the program is the
# classic socket_echo_client.py of Doug Hellmann's "Python Module of the Week" that prints
# exactly that output. Transcribed in Python 3; what differs from the original is marked
# "# changed", and is only what a test needs:
#   - host and port come from argv (default localhost 10000);
#   - Python 3 sends bytes: the message is encoded, and received data decoded to print it.
# Run: python3 -u socket_echo_client.py [HOST [PORT]]
import socket
import sys

# Create a TCP/IP socket
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

# Connect the socket to the port where the server is listening
server_address = (sys.argv[1] if len(sys.argv) > 1 else 'localhost',  # changed
                  int(sys.argv[2]) if len(sys.argv) > 2 else 10000)    # changed
print('connecting to %s port %s' % server_address)
sock.connect(server_address)

try:

    # Send data
    message = 'This is the message.  It will be repeated.'
    print('sending "%s"' % message)
    sock.sendall(message.encode())  # changed: .encode()

    # Look for the response
    amount_received = 0
    amount_expected = len(message)

    while amount_received < amount_expected:
        data = sock.recv(16)
        amount_received += len(data)
        print('received "%s"' % data.decode())  # changed: .decode()

finally:
    print('closing socket')
    sock.close()
