# PRÁCTICA TCP 1.2, the server, transcribed from the handout (002_e7c0548db0e94e0c.txt).
# Changes, each marked "# added": the address comes from argv (host port; port 0 lets the OS
# choose) instead of ("127.0.0.1",6780), and once listening, the bound address is printed on
# stderr as our servers do, so that it can be started on port 0. Run it with python3 -u
# (unbuffered), or its transcript arrives only when it exits.
import socket
import sys

# En este caso solo se permiten mensajes de máximo 20 bytes. Aunque la MTU se especifique a 20 bytes,
# La librería socket implementa una cola que permite la recepción de mensajes más largos.
# Por tanto, no se elimina el mensaje si es más largo, si no que la recepción se realiza de 20 en 20 bytes.
MTU = 20

# Parámetro empleado como aviso de llegada de comando EXIT al bucle más externo, lo que
# permite cerrar la conexión detener el script
flag = 0

msg = "Hello Client, this is a long message that you will received in chunks of 20 bytes"
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.bind((sys.argv[1], int(sys.argv[2])))  # added: was sock.bind(("127.0.0.1",6780))
sock.listen(1)
print("listening on %s:%d (tcp)" % sock.getsockname(), file=sys.stderr)  # added

while True:
    print("Waiting for clients...")
    conn, client_address = sock.accept()
    print("Connection received from client " + str(client_address))
    
    try:
        while True:
            data = conn.recv(MTU).decode()

            if(str(data) == "EXIT"):
                print("Received EXIT command from client")
                conn.sendall("Bye".encode())
                
                # Como se ha recibido EXIT, se pone flag a 1
                flag = 1
                break
            
            # Se imprime el mensaje en bloques de longitud MTU bytes
            elif (len(data) == MTU):
                print("Client> " + str(data))
            else:
                print("Client> " + str(data))
                conn.sendall(msg.encode())
                break

        if flag == 1:
            # Finalización de la conexión
            conn.close()
            break
    except ConnectionResetError:
        # En caso de interrupción de la conexión por parte del cliente,
        # se cierra la conexión y finaliza el programa
        print("Lost connection")
        conn.close()
        break
